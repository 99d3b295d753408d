from lecturebuild.cli import main

raise SystemExit(main())
