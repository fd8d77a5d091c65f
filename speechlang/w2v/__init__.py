"""speechlang.w2v"""
