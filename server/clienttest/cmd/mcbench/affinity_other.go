//go:build !linux

package main

import "errors"

func allowedCPUs() ([]int, error) { return nil, errors.New("pinning needs Linux") }

func pinSelf([]int) error { return errors.New("pinning needs Linux") }
