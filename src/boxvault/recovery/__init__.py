"""Recovery: browse a user's snapshots, restore into Box, download a zip, export to the customer's storage."""
