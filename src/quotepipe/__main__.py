from quotepipe.cli import main

raise SystemExit(main())
