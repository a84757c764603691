"""Jackyun sub-codes (other-erps.md, "Envelope and errors") and the error that carries one."""

INVALID_SIGN = "0858030801"
UNKNOWN_APPKEY = "0858030802"
NOT_SUBSCRIBED = "0130020310"
BAD_PARAM = "0050030002"  # a parameter missing, malformed or out of range
NO_FIELDS = "0040139996"  # 查询字段不能为空: `fields` missing on oms.trade.fullinfoget
THROTTLED = "0859999999"
GOODS_OK = "0030000004"  # a success: the ERP goods methods answer it with msg 操作成功


class JackyunError(Exception):
    """A business failure, answered with HTTP 200, code 0 and this sub-code."""

    def __init__(self, sub_code: str, msg: str) -> None:
        super().__init__(sub_code, msg)
        self.sub_code = sub_code
        self.msg = msg


def bad_param(msg: str) -> JackyunError:
    return JackyunError(BAD_PARAM, f"参数错误: {msg}")
