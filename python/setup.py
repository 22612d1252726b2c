"""Records the checkout this package was installed from (attnc/_checkout.py), so that the
installed package finds, or builds, libattnc_c under the checkout's .build/release/."""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RecordCheckout(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "attnc", "_checkout.py")
        with open(target, "w") as f:
            f.write("# Written by setup.py at install time.\nCHECKOUT = %r\n" % CHECKOUT)


setup(cmdclass={"build_py": RecordCheckout})
