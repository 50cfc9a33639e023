from evalstack.cli.main import main

main()
