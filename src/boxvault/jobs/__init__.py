"""Jobs: every backup, restore and export is a Job row; the queue only carries its id."""
