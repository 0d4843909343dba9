int swarm_placeholder_swarm;
int main(void){return 0;}
