"""speechlang.asr"""
