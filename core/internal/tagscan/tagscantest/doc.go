// Package tagscantest runs a test under every implementation of package
// tagscan that this build and CPU provide, so that callers (tagscan's own
// tests, the hashtable's) cover every kernel, not only the default one.
package tagscantest
