from mediaplex.cli import main

raise SystemExit(main())
