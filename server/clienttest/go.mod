module github.com/segcache/segcache/server/clienttest

go 1.27

require (
	github.com/bradfitz/gomemcache v0.0.0-20260422231931-4d751bb6e37c
	github.com/google/go-cmp v0.7.0
)
