"""zdd_localaws: moto's server with a realistic load-balancer health model on top.

Run as `python -m zdd_localaws --port 0 --time-scale 1.0`. See README.md in the parent folder.
"""

# The patches in patches.py replace internals of moto's ELBv2, Auto Scaling and EC2 backends.
# Another moto version may rename or reshape them silently: refuse to run on anything else.
PINNED_MOTO_VERSION = "5.2.1"


def check_moto_version() -> None:
    import moto

    if moto.__version__ != PINNED_MOTO_VERSION:
        raise RuntimeError(
            f"zdd_localaws patches moto internals and is pinned to moto=={PINNED_MOTO_VERSION}, "
            f"but moto {moto.__version__} is installed. Re-run `make setup` (it installs the pin from "
            "test-fixtures/requirements.txt), or port test-fixtures/localaws/zdd_localaws/patches.py "
            "to the new version and re-run its tests before moving the pin."
        )
