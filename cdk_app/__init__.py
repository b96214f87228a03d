"""The CDK app of this repository's project (runtool.yml); cdk.json runs ``python -m cdk_app``.

All logic lives in ``runtool_iac.constructs`` and ``runtool_iac.synth``; this
package only wires the project file to them.
"""
