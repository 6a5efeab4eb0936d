# 中文提示词
title: 小猫
resolution: 480p
style: 水彩画风格。

character Kitten:
  image: assets/red.png
  description: 一只圆滚滚的红色小猫

scene nap 8s:
  shot 3s: @Kitten 在窗台上伸懒腰。
  shot: @Kitten 蜷成一团睡着了。
  @Kitten (小声): "晚安。"
  sound: 雨声
