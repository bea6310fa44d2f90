// Package topbar is the top-bar fragment: a strip above the site header
// with the latest headlines and the weather for the reader's city. It
// renders no news or weather itself — its markup holds two fragment slots
// that the composer fills from the headlines and weather services (nested
// composition), so the top bar is one fragment made of two others.
package topbar
