from boxvault.cli import main

main()
