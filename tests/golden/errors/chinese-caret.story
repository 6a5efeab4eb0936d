title: 小猫将军

character Kitten:
  image: assets/kitten.png

shot opening 5s:
  小猫将军站在悬崖上，@Kiten 披风在风中飘扬。
  镜头： 缓缓上升
