from chairside.cli import main

main()
