"""DICOM networking (PS3.7, PS3.8): the DIMSE listener and the forwarder ("the drive").

- :mod:`server.dimse.listener` runs a pynetdicom application entity: C-ECHO, C-STORE
  into the same ingest pipeline as STOW-RS, C-FIND over the QIDO SQL, C-MOVE and C-GET.
  Calling AE titles are checked against the registered sources (``server/db/accounts.py``).
- :mod:`server.dimse.spool` and :mod:`server.dimse.forwarder` make the remote-site drive:
  C-STORE into a durable spool, then STOW-RS to a remote archive once a study is idle.
- :mod:`server.dimse.run` holds the process entry points used by ``workbench serve
  --dimse`` and ``workbench drive``.

``docs/dimse.md`` describes the behaviour as operators see it.
"""
