// The module is its header (static inline functions); SwiftPM wants a source file.
#include "CZenScan.h"
