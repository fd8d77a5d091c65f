"""speechlang.nmt"""
