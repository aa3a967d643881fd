/* bx: a FOAM-style typed message-box RPC framework. The umbrella header. */
#ifndef BX_H
#define BX_H

#include "bx/version.h"
#include "bx/common.h"
#include "bx/alloc.h"
#include "bx/error.h"
#include "bx/log.h"
#include "bx/msg.h"
#include "bx/box.h"
#include "bx/boxes.h"
#include "bx/ctx.h"
#include "bx/registry.h"
#include "bx/codec.h"
#include "bx/rpc.h"
#include "bx/idl.h"
#include "bx/transport.h"
#include "bx/msgbox.h"
#include "bx/telehash.h"
#include "bx/th_box.h"
#include "bx/dao.h"

#endif /* BX_H */
