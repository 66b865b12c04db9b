"""Geometry and pixels: series -> xarray volumes, pixel <-> patient transforms, LUTs, MPR.

Modules (imported one by one; this package imports nothing itself):

``geometry``  immutable plane and volume geometry, conventions, transforms
``planes``    plane geometry and pixel spacing read from datasets, frame by frame
``volume``    a series or enhanced multi-frame image as a ``("z", "y", "x")`` volume
``resample``  regular, orthogonal resampling (gantry tilt, uneven spacing; scipy)
``mpr``       axial, coronal and sagittal reformats
``cine``      multi-frame loops as ``("frame", "y", "x"[, "rgb"])`` with frame times
``load``      the right one of the above for a list of datasets
``lut``       modality LUT, VOI windows and LUTs, padding, presentation
``color``     colour photometric interpretations to 8-bit RGB
``presets``   window presets per modality and from datasets
``render``    JPEG/PNG rendering of one frame (``/rendered``, thumbnails)
"""
