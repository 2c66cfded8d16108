//go:build race

package extractproc_test

// raceEnabled: the test binary (and so the child it starts) runs under the race detector,
// whose shadow memory does not fit an address-space rlimit.
const raceEnabled = true
