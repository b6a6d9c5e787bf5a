#!/bin/sh
# Stands in for a Python that is too old for the brain: answers the shim's version probe with 3.9.
echo 3.9
