package core

import "time"

// Cache is a Segcache instance. Its methods are safe for concurrent use.
type Cache struct{}

// TEMPORARY: signatures only; the engine replaces these bodies.

func Open(opts Options) (*Cache, error)                                { return nil, ErrNoMemory }
func (c *Cache) Close() error                                          { return nil }
func (c *Cache) Get(dst, key []byte) ([]byte, bool)                    { return dst, false }
func (c *Cache) GetCAS(dst, key []byte) ([]byte, uint64, bool)         { return dst, 0, false }
func (c *Cache) GetInto(buf, key []byte) (int, uint64, error)          { return 0, 0, ErrNotFound }
func (c *Cache) GetBatch(keys, bufs [][]byte, lens []int, errs []error) {}
func (c *Cache) Set(key, val []byte, ttl time.Duration) error          { return ErrNoSpace }
func (c *Cache) Add(key, val []byte, ttl time.Duration) error          { return ErrNoSpace }
func (c *Cache) Replace(key, val []byte, ttl time.Duration) error      { return ErrNoSpace }
func (c *Cache) CAS(key, val []byte, ttl time.Duration, token uint64) error {
	return ErrNoSpace
}
func (c *Cache) Delete(key []byte) error                    { return ErrNotFound }
func (c *Cache) Incr(key []byte, delta uint64) (uint64, error) { return 0, ErrNotFound }
func (c *Cache) Decr(key []byte, delta uint64) (uint64, error) { return 0, ErrNotFound }
func (c *Cache) Expire() error                              { return nil }
func (c *Cache) Clear() error                               { return nil }
func (c *Cache) Stats() Stats                               { return Stats{} }
func (c *Cache) Len() int                                   { return 0 }
