//go:build !purego

package spinlock

const puregoBuild = false
