import sys

from runtool_iac.errors import ConfigError
from runtool_iac.synth import synth

try:
    synth(app_from_cli=True)
except ConfigError as error:
    print(error, file=sys.stderr)
    sys.exit(1)
