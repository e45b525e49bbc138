//go:build race

package core

// raceOn: see race_test.go (the black-box tests have their own flag).
const raceOn = true
