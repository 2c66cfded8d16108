//go:build !race

package extractproc_test

const raceEnabled = false
