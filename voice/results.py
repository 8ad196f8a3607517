"""Citizen-voice results from answers: response rates, scores with intervals, change between
timepoints and continuity, suppressed below k.

Pure: numpy, pandas and statsmodels only.
"""
