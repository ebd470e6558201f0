package main

import (
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method; ds is sorted in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(float64(len(ds))*p/100+0.999999) - 1
	rank = max(0, min(rank, len(ds)-1))
	return ds[rank]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
