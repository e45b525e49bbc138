//go:build !linux

package main

const threadCPUAvailable = false

func threadCPU() int64 { return 0 }

const processCPUAvailable = false

func processCPU() int64 { return 0 }
