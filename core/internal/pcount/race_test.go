//go:build race

package pcount

const raceBuild = true
