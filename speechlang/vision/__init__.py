"""speechlang.vision"""
