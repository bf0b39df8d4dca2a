"""Jobs on a Ray cluster (`server.py --ray ...`): worker actors that each own an executor,
a node cache and a device; the server keeps the API, websockets, the job store and the
output folder. Nothing here imports Ray until `Cluster.start` runs; nothing outside this
package imports it at all (server.py imports this package only when --ray is given).
"""

from comfy_core.cluster.cluster import Cluster
from comfy_core.cluster.connect import ClusterStartError

__all__ = ["Cluster", "ClusterStartError"]
