// Package item defines the layout of an item in a segment and the
// canonical decimal form of numeric values.
//
// An item is 8-byte aligned: an 8-byte header (key length, flags, value
// length), the key, then the value. A numeric item (a value given as a
// canonical unsigned decimal) stores instead two aligned 64-bit words after
// the key: a version, odd while an update is in progress (a seqlock that
// readers check), and the number, so increments are atomic and in place.
// A header of zero ends a segment's items.
package item
