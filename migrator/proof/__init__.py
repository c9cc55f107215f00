"""What a cluster gives a pod: snapshots (cluster, live), the one device matcher (matcher), what a
device-plugin resource is on a node (nodes), KEP-5004 serving, and verify's proof that a
migrated pod gets the same devices (equivalence)."""
