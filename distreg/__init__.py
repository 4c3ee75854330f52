"""distreg: regression trained on real distributed engines, with proof that they agree."""

import os

#: The project's root (configs/, .hadoop/, .run/, .spark/ live there): its one definition.
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
