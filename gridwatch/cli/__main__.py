from gridwatch.cli import main

main()
