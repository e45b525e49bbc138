//go:build !race

package spinlock

const raceBuild = false
