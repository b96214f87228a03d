import sys

from runtool_iac.errors import ActionError, ConfigError
from runtool_iac.synth import synth

try:
    synth(app_from_cli=True)
except (ConfigError, ActionError) as error:  # ActionError: e.g. IAM policy quotas exceeded
    print(error, file=sys.stderr)
    sys.exit(1)
