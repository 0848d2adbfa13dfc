"""`python -m shop <component>`: serves one component of the shop (see shop.registry)."""

import sys

from angzarr import run
from shop.registry import KINDS


def main() -> None:
    components = {name: c for table in KINDS.values() for name, c in table.items()}
    if len(sys.argv) != 2 or sys.argv[1] not in components:
        print(f"usage: python -m shop <component>; components: {', '.join(components)}", file=sys.stderr)
        sys.exit(2)
    run(components[sys.argv[1]])


if __name__ == "__main__":
    main()
