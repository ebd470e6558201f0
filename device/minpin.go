package device

/*
#cgo LDFLAGS: -lfido2
#include <fido.h>
#include <stdlib.h>

// minpinlen returns the minPINLength the key reports in GetInfo, 0 if it
// reports none, or a negative libfido2 error. go-libfido2 does not expose it.
static int minpinlen(const char *path) {
	fido_dev_t *dev = fido_dev_new();
	fido_cbor_info_t *ci = NULL;
	int r;
	if (dev == NULL)
		return FIDO_ERR_INTERNAL;
	if ((r = fido_dev_open(dev, path)) != FIDO_OK) {
		fido_dev_free(&dev);
		return r < 0 ? r : -r;
	}
	if ((ci = fido_cbor_info_new()) == NULL) {
		r = FIDO_ERR_INTERNAL;
	} else if ((r = fido_dev_get_cbor_info(dev, ci)) == FIDO_OK) {
		r = (int)fido_cbor_info_minpinlen(ci);
	} else if (r > 0) {
		r = -r;
	}
	fido_cbor_info_free(&ci);
	fido_dev_close(dev);
	fido_dev_free(&dev);
	return r;
}
*/
import "C"

import "unsafe"

// readMinPINLength returns the key's minimum PIN length from GetInfo, or 0
// when the key does not report one or cannot be read. The caller holds the
// path lock.
func readMinPINLength(path string) int {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	n := int(C.minpinlen(cpath))
	if n < 0 {
		return 0
	}
	return n
}
