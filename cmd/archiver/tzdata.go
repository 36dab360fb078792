package main

// Time zones (config timeZone, --time-zone) work in images without /usr/share/zoneinfo.
import _ "time/tzdata"
