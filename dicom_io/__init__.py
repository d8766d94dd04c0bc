"""Films in, one Radiograph out: DICOM and scanned images, pixel data, metadata and calibration.

Never imports Qt or the application.
"""
