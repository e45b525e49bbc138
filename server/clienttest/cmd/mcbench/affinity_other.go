//go:build !linux

package main

import "errors"

func allowedCPUs() ([]int, error) { return nil, errors.New("pinning needs Linux") }

func pinSelf(cpus, restore []int) (func() error, error) {
	return nil, errors.New("pinning needs Linux")
}
