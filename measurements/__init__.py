"""Clinical core: the case model, frontal-plane measurements, normals and the malalignment test.

Pure Python and numpy; never imports Qt, the application, or dicom_io.
"""
