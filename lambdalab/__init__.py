"""lambdalab: a faithful local AWS Lambda for learning, with moto as the rest of AWS.

    >>> import lambdalab
    >>> cloud = lambdalab.start()
    >>> lam = cloud.client("lambda")
"""

from .cloud import LocalCloud, start
from .packaging import zip_files

__version__ = "0.1.0"
__all__ = ["LocalCloud", "__version__", "start", "zip_files"]
