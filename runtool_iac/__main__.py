from runtool_iac.cli import main

main()
