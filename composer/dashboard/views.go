package dashboard

import (
	"strconv"
	"strings"
)

func boolString(b bool) string { return strconv.FormatBool(b) }

// ratioValue is a meter's value: an unknown ratio shows as empty.
func ratioValue(r float64) string {
	return strconv.FormatFloat(max(r, 0), 'f', 3, 64)
}

// percentOf writes a share as a whole percentage.
func percentOf(share float64) string {
	return strconv.Itoa(int(share*100+0.5)) + "%"
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// assetName is the file name an asset's href ends in.
func assetName(href string) string {
	if i := strings.LastIndexByte(href, '/'); i >= 0 {
		return href[i+1:]
	}
	return href
}
