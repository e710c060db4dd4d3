"""stabviz dashboard, the installed package's entry script (`stabviz dashboard`)."""
from stabviz.ui.app import main

main()
